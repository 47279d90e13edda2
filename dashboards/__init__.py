"""The Dash app for analysts (pages, queries, figures)."""
