"""A preset's gallery: its pages in the curated order (`query`), the curators' verdicts and manual order
(`curation`), each example's sizes (`example_sizes`), an example as every caller shows it (`example_json`)
and deleting one (`example_delete`)."""
