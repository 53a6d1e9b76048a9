"""Sample app: a guestbook that writes rows and renders them, so the stack has real work to do."""
