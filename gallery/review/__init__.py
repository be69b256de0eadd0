"""Review: staff decisions on images, the review queue, members' flags."""
