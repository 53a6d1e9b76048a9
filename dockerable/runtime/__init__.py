"""What the template runs inside your app: the secrets loader, health probes, login throttle, log filters."""
