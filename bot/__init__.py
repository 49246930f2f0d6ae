"""newsbot: RSS/Atom feeds matched against watch rules, alerts pushed to chats."""

__version__ = "0.1.0"
