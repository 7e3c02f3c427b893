"""The quality programme of the service standard: the quarterly analysis of appeals,
satisfaction surveys (one questionnaire per customer group) and the staff digest of
appeals approaching their due time.

- `report`: pure analysis, appeal records → `AppealsReport` (no I/O);
- `render`: the report as files (Markdown, HTML with PNG charts, CSV);
- `surveys`: creating and sending surveys, collecting answers in the conversation,
  the survey report;
- `digest`: appeals approaching their due time, for staff each morning.
"""
