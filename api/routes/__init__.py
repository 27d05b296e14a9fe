"""One router per resource; each route reads one query or calls one command."""
