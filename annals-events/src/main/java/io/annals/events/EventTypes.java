package io.annals.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * The mapping between Java event types (records, typically the permitted subtypes of a sealed
 * interface) and the type names and JSON stored in the event store, through Jackson; plus the
 * upcasters applied on read and what to do with unknown types.
 *
 * <pre>{@code
 * sealed interface AccountEvent { }
 * record AccountOpened(String owner) implements AccountEvent { }
 * record MoneyDeposited(BigDecimal amount) implements AccountEvent { }
 *
 * EventTypes<AccountEvent> types = EventTypes.of(AccountEvent.class)   // registers AccountOpened, MoneyDeposited
 *         .upcast("DepositMade", old -> new Upcaster.Event("MoneyDeposited", old.data()))
 *         .onUnknownType(EventTypes.OnUnknownType.SKIP)
 *         .build();
 * store.append("account-42", ExpectedVersion.noStream(), types.toEventData(new AccountOpened("alice")));
 * Optional<AccountEvent> e = types.decode(recorded);
 * }</pre>
 *
 * <p>Instances are immutable and thread-safe.
 *
 * @param <E> the common supertype of the events
 */
public final class EventTypes<E> {

    private static final Logger log = LoggerFactory.getLogger(EventTypes.class);
    private static final int MAX_UPCAST_STEPS = 100;

    /** What reading does with a stored event whose type is neither registered nor upcast. */
    public enum OnUnknownType {
        /** Throw {@link UnknownEventTypeException}: the safe default, nothing is silently ignored. */
        FAIL,
        /** Skip the event with a warning in the log: for readers that only care about some types. */
        SKIP
    }

    private final Class<E> baseType;
    private final Map<String, Class<? extends E>> byName;
    private final Map<Class<?>, String> byClass;
    private final Map<String, Upcaster> upcasters;
    private final OnUnknownType onUnknownType;
    private final ObjectMapper mapper;

    private EventTypes(Builder<E> b) {
        this.baseType = b.baseType;
        this.byName = Map.copyOf(b.byName);
        Map<Class<?>, String> reverse = new HashMap<>();
        b.byName.forEach((name, type) -> reverse.put(type, name));
        this.byClass = Map.copyOf(reverse);
        this.upcasters = Map.copyOf(b.upcasters);
        this.onUnknownType = b.onUnknownType;
        this.mapper = b.mapper;
    }

    /**
     * Starts a registry for events of {@code baseType}. When it is a sealed interface or class,
     * its permitted record and class subtypes (recursively) are registered under their simple
     * names; register more, or other names, with {@link Builder#register}.
     */
    public static <E> Builder<E> of(Class<E> baseType) {
        Builder<E> b = new Builder<>(Objects.requireNonNull(baseType, "baseType"));
        Deque<Class<?>> todo = new ArrayDeque<>();
        todo.add(baseType);
        while (!todo.isEmpty()) {
            Class<?> type = todo.pop();
            if (type.isSealed()) {
                for (Class<?> sub : type.getPermittedSubclasses()) todo.add(sub);
            } else if (type != baseType && !type.isInterface() && !java.lang.reflect.Modifier.isAbstract(type.getModifiers())) {
                b.register(type.getSimpleName(), type.asSubclass(baseType));
            }
        }
        return b;
    }

    /** The type name an event is stored under. */
    public String typeOf(E event) {
        Objects.requireNonNull(event, "event");
        String name = byClass.get(event.getClass());
        if (name == null) {
            throw new EventSerializationException("Event class " + event.getClass().getName() + " is not registered in the event types of "
                    + baseType.getSimpleName() + " (registered: " + byName.keySet() + "); register it with register(name, class)", null);
        }
        return name;
    }

    /** The JSON of an event. */
    public String toJson(Object value) {
        try {
            return mapper.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new EventSerializationException("Could not write " + value.getClass().getName() + " as JSON: "
                    + e.getOriginalMessage() + ". Use types Jackson can write (records of strings, numbers, booleans,"
                    + " lists, maps, other records), or register a module on the ObjectMapper given to EventTypes", e);
        }
    }

    /** The event ready to append, with a new id and the current application context as metadata. */
    public EventData toEventData(E event) {
        return toEventData(EventData.newEventId(), event);
    }

    /** The event ready to append, with the given id (reuse it when retrying the same append). */
    public EventData toEventData(UUID eventId, E event) {
        return EventData.of(eventId, typeOf(event), toJson(event));
    }

    /**
     * Reads a stored event as its Java type, upcasting it first if needed. Empty only for an
     * unknown type under {@link OnUnknownType#SKIP}.
     *
     * @throws UnknownEventTypeException      for an unknown type under {@link OnUnknownType#FAIL}
     * @throws EventDeserializationException if the JSON does not fit the class
     */
    public Optional<E> decode(RecordedEvent event) {
        String type = event.type();
        Class<? extends E> target = byName.get(type);
        if (target != null) {
            try {
                return Optional.of(mapper.readValue(event.data(), target));
            } catch (JsonProcessingException e) {
                throw malformed(event, target, e);
            }
        }
        if (!upcasters.containsKey(type)) {
            return unknown(event, type);
        }
        try {
            Upcaster.Event current = new Upcaster.Event(type, mapper.readTree(event.data()));
            for (int step = 0; step < MAX_UPCAST_STEPS; step++) {
                Upcaster up = upcasters.get(current.type());
                if (up == null) break;
                current = Objects.requireNonNull(up.upcast(current), "upcaster of " + current.type() + " returned null");
            }
            target = byName.get(current.type());
            if (target == null) {
                return unknown(event, current.type());
            }
            return Optional.of(mapper.treeToValue(current.data(), target));
        } catch (JsonProcessingException e) {
            throw malformed(event, target, e);
        }
    }

    /** The JSON mapper in use (strict: unknown and missing properties are errors). */
    public ObjectMapper mapper() {
        return mapper;
    }

    /** The registered type names and their classes. */
    public Map<String, Class<? extends E>> registered() {
        return byName;
    }

    private Optional<E> unknown(RecordedEvent event, String type) {
        String message = "Event " + event.streamId() + "@" + event.streamVersion() + " (position " + event.globalPosition()
                + ") has type '" + type + "'" + (type.equals(event.type()) ? "" : " (upcast from '" + event.type() + "')")
                + ", which the event types of " + baseType.getSimpleName() + " do not know (registered: " + byName.keySet()
                + "). Register the type or an upcaster for it, or read with onUnknownType(SKIP)";
        if (onUnknownType == OnUnknownType.SKIP) {
            log.warn("Skipped: {}", message);
            return Optional.empty();
        }
        throw new UnknownEventTypeException(message, event);
    }

    private EventDeserializationException malformed(RecordedEvent event, Class<?> target, JsonProcessingException e) {
        return new EventDeserializationException("Event " + event.streamId() + "@" + event.streamVersion() + " (type " + event.type()
                + ", position " + event.globalPosition() + ") cannot be read as " + (target == null ? "?" : target.getName()) + ": "
                + e.getOriginalMessage() + ". Its stored data is " + Json.abbreviate(event.data())
                + "; if the class changed, register an upcaster for the old shape", event, e);
    }

    /**
     * Builds {@link EventTypes}.
     *
     * <pre>{@code
     * EventTypes.of(AccountEvent.class).register("Deposit", MoneyDeposited.class).build();
     * }</pre>
     *
     * @param <E> the common supertype of the events
     */
    public static final class Builder<E> {
        private final Class<E> baseType;
        private final Map<String, Class<? extends E>> byName = new LinkedHashMap<>();
        private final Map<String, Upcaster> upcasters = new HashMap<>();
        private OnUnknownType onUnknownType = OnUnknownType.FAIL;
        private ObjectMapper mapper = Json.MAPPER;

        private Builder(Class<E> baseType) {
            this.baseType = baseType;
        }

        /** Registers (or renames) {@code type} under {@code name}; a class has one name, a name one class. */
        public Builder<E> register(String name, Class<? extends E> type) {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(type, "type");
            if (name.isBlank() || name.length() > EventData.MAX_TYPE_LENGTH) {
                throw new IllegalArgumentException("An event type name is 1 to " + EventData.MAX_TYPE_LENGTH + " non-blank characters");
            }
            Class<? extends E> other = byName.get(name);
            if (other != null && other != type) {
                throw new IllegalArgumentException("Event type name '" + name + "' is already registered for " + other.getName()
                        + "; give " + type.getName() + " another name");
            }
            byName.values().removeIf(t -> t == type);
            byName.put(name, type);
            return this;
        }

        /** Upcasts stored events of type {@code oldType} on read; the name must not also be registered. */
        public Builder<E> upcast(String oldType, Upcaster upcaster) {
            Objects.requireNonNull(oldType, "oldType");
            Objects.requireNonNull(upcaster, "upcaster");
            if (upcasters.putIfAbsent(oldType, upcaster) != null) {
                throw new IllegalArgumentException("An upcaster for event type '" + oldType + "' is already registered");
            }
            return this;
        }

        /** What to do with unknown types on read; {@link OnUnknownType#FAIL} by default. */
        public Builder<E> onUnknownType(OnUnknownType policy) {
            onUnknownType = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** The Jackson mapper to use, e.g. one with the JavaTimeModule; a strict one by default. */
        public Builder<E> mapper(ObjectMapper objectMapper) {
            mapper = Objects.requireNonNull(objectMapper, "objectMapper");
            return this;
        }

        /** The registry. */
        public EventTypes<E> build() {
            for (String name : upcasters.keySet()) {
                if (byName.containsKey(name)) {
                    throw new IllegalArgumentException("Event type '" + name + "' is both registered and upcast; an upcaster is for"
                            + " old type names only (rename the old one, e.g. '" + name + ".v1')");
                }
            }
            return new EventTypes<>(this);
        }
    }
}
