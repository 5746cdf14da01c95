"""Member imports: a CSV or JSON-lines file dropped in the imports bucket (or uploaded through a URL the
API signs), applied row by row as `PUT .../members/{external_id}` would, with a report."""
