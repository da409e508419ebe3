package org.afbus.test;

import org.afbus.test.Point;

union Shape {
    String label = "none";
    Point point;
    int radius;
}
