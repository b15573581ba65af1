"""The Faust worker that joins department facts into unified records (``exchange worker``)."""
