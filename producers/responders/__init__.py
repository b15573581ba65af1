"""Department systems reacting to the desks' application events (collect once, fan out).

:mod:`.application` reads the one form, :mod:`.config` decides each answer's fate (delay,
late, never, conflicting), the planners (:mod:`.startup`, :mod:`.transfer`,
:mod:`.deregistration`) say which department publishes what after what, and
:mod:`.schedule` keeps the pending answers until they are due. No Kafka here: the process
around them is :mod:`producers.departments`.
"""
