"""Renderers: they format a computed result and never compute one."""
