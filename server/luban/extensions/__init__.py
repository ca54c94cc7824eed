"""Extensions: entry-point packages loaded, mounted under their API group, hot-swapped.

``manager.ExtensionManager`` owns one ``slot.ExtensionSlot`` per extension (explicit states
Loading/Running/Failed/Disabled); ``version.LoadedVersion`` serves one imported version;
``desired`` keeps enable/disable as ``Extension`` objects in the cluster; ``admin`` is the
admin API; ``watch`` drives hot swap and plug-in/unplug of distributions.
"""
