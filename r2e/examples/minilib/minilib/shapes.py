"""Axis-aligned rectangles."""


class Rectangle:
    """A rectangle with its lower-left corner at (x, y)."""

    def __init__(self, x, y, width, height):
        if width < 0 or height < 0:
            raise ValueError("width and height must be non-negative")
        self.x, self.y, self.width, self.height = x, y, width, height

    def area(self):
        """The area of the rectangle."""
        return self.width * self.height

    def contains(self, px, py):
        """Whether the point (px, py) lies inside the rectangle or on its border."""
        inside_x = self.x <= px <= self.x + self.width
        inside_y = self.y <= py <= self.y + self.height
        return inside_x and inside_y

    def scale(self, factor):
        """Grow or shrink the rectangle in place around its lower-left corner; return it."""
        if factor <= 0:
            raise ValueError("factor must be positive")
        self.width *= factor
        self.height *= factor
        return self

    def intersection(self, other):
        """The overlapping rectangle of self and `other`, or None when they do not overlap."""
        left = max(self.x, other.x)
        bottom = max(self.y, other.y)
        right = min(self.x + self.width, other.x + other.width)
        top = min(self.y + self.height, other.y + other.height)
        if right < left or top < bottom:
            return None
        return Rectangle(left, bottom, right - left, top - bottom)
