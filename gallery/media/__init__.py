"""Media: storage writes, renditions (thumbnails), serving files, and Pillow imaging."""
