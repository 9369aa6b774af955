"""Indicators: what share of households, people or businesses in an area meet a condition.

`expressions` parses, checks against a form and evaluates (over whole columns) the XLSForm-style
expressions a form designer writes for an indicator's filter (denominator) and condition (numerator)."""
