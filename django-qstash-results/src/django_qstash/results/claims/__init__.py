"""How a delivery is claimed before it runs, one module per strategy, as Django's session
backends are: :mod:`.lock` (one commit per delivery) and :mod:`.row` (a committed STARTED row);
:mod:`.base` holds what both share."""
