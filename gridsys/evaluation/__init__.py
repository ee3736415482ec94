"""Evaluation (考核): indicators per grid, area, town and person, computed in the database from the
incidents' event log; the dashboard, the drill-down to the incidents behind a figure, and the
town's published results."""
