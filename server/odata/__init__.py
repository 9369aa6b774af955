"""OData v4 as ODK Central serves it (odk-protocol §7.3), read straight from the column tables.

filter.py   the `$filter`/`$orderby` subset, parsed (no eval) and compiled to SQL over `submissions`
schema.py   the form's fields as OData sees them: tables, sanitised names, types, repeat-row ids
values.py   XML text → OData JSON values (typed numbers, GeoJSON/WKT, dateTime offsets)
query.py    the query string: Central's refusals and codes, paging, $select, $skiptoken
documents.py  service document and `$metadata` EDMX
rows.py     one page of a table (`page()`), and every page of it in turn (`iter_rows()`)"""
