"""What the template runs inside your app: health probes, the login throttle, log filters."""
