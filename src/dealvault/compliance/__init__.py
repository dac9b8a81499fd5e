"""The compliance gate before a transfer: findings per plan, waivers, the checks."""

# the rules first: rule modules (rules_pia, rules_notice, ...) import them and are imported by them
from dealvault.compliance import rules as rules
