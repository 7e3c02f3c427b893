-- Several instances on one PostgreSQL store (docs/interfaces.md §13). The embedded SQLite
-- store is one instance by definition: presence, leadership and shared SMS fragments need
-- nothing here (storage/cluster.py: SoloCluster; sms_gateway/fragments.py keeps its own
-- file). This file exists so that PostgreSQL's 009_cluster.pg.sql has its twin.
SELECT 1;
