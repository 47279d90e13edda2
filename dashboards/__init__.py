"""The Dash app for analysts: `create_app(settings, engine)` in app.py.

app.py        the factory (use_pages; pages/ one module per page with its callbacks)
queries.py    SQL aggregation → small DataFrames (no page loads all items)
stats.py      Wilson intervals, binomial change points, log-odds with a Dirichlet prior
figures.py    DataFrame → plotly figure, one colour per label
filters.py    the shared filter state and its URL query string
components.py layout pieces and shared callback wiring; ids.py the component ids
events.py     key events drawn on time charts
"""
