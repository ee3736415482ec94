"""Maps: folium builds them on the server; pages embed header, body and script (no iframe)."""
