"""The compliance gate before a transfer: findings per plan, waivers, the checks."""
