"""Data-subject rights: everything held about one person, and erasing it (GDPR Art. 15, 17, 20)."""
