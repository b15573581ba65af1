"""Department publishers and the traffic simulator."""
