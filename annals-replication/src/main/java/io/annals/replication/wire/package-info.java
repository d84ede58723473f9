/**
 * The django-cqrs wire format: {@link io.annals.replication.wire.CqrsMessage}, its bytes
 * ({@link io.annals.replication.wire.CqrsWire}), Python's text forms of values
 * ({@link io.annals.replication.wire.PythonText}) and the RabbitMQ names and properties
 * ({@link io.annals.replication.wire.CqrsTopology}).
 */
package io.annals.replication.wire;
