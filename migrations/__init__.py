"""Ships the top-level migrations/ folder inside the wheel as `app.migrations`."""
