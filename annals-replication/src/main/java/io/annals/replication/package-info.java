/**
 * CQRS replication over RabbitMQ, wire-compatible with django-cqrs 3.x: {@link io.annals.replication.CqrsMaster}
 * publishes every committed change of declared tables from the change feed;
 * {@link io.annals.replication.CqrsReplica} applies them to a local table on PostgreSQL or MariaDB.
 * See docs/replication.md.
 */
package io.annals.replication;
