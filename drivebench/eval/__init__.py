"""Running policies in scenarios and summarising how they drive."""
