"""The compliance gate before a transfer: findings per plan, waivers, the checks."""

# the rules first: a rule module (e.g. rules_pia) imported on its own needs them loaded
from dealvault.compliance import rules as rules
