"""The team's gallery: grid, detail, compare, favourites and bulk actions."""
