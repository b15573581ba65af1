"""Persistence of the desk: tables, migrations, unit of work, audit chain."""
