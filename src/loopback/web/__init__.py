"""The web console: server-rendered pages under /console, usable without JavaScript."""
