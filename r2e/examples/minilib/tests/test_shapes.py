from minilib.shapes import Rectangle


def test_area_and_contains():
    r = Rectangle(0, 0, 4, 3)
    assert r.area() == 12
    assert r.contains(4, 3)
    assert not r.contains(5, 1)


def test_scale_and_intersection():
    r = Rectangle(1, 1, 2, 2).scale(2)
    assert (r.width, r.height) == (4, 4)
    overlap = r.intersection(Rectangle(3, 3, 5, 5))
    assert (overlap.x, overlap.y, overlap.width, overlap.height) == (3, 3, 2, 2)
    assert Rectangle(0, 0, 1, 1).intersection(Rectangle(5, 5, 1, 1)) is None
