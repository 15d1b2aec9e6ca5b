"""accord.geo: coordinates, datums, shapes, geodesic distances, the spatial index, boundary
discrepancies."""
