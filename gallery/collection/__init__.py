"""Collections: a team's images gathered by project or client, in an order people choose."""
