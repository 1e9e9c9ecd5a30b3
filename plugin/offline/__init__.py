"""The audit report: an export against gold offline (``lsqa audit``), or a project's gold answers live.

Data flows reader (export streamed, gold in memory) -> compare (gold units of a chunk, boxes in
batches) -> tally (running totals) -> report (figures, error profile, plan's recommendation) ->
cli / html / the API. ``live`` feeds the store's gold answers through the same compare and tally.
"""
