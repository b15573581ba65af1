"""One-window exchange bus: department facts joined into unified enterprise and property records."""
