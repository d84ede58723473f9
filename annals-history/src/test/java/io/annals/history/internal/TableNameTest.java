package io.annals.history.internal;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TableNameTest {

    @Test
    void aBareNameIsInSchemaPublic() {
        assertThat(TableName.parse("orders")).isEqualTo(new TableName("public", "orders"));
        assertThat(TableName.parse(" shop.Orders ")).isEqualTo(new TableName("shop", "Orders"));
    }

    @Test
    void quotedPartsMayHoldDotsAndQuotes() {
        assertThat(TableName.parse("\"my.schema\".\"a\"\"b\"")).isEqualTo(new TableName("my.schema", "a\"b"));
        assertThat(TableName.parse("\"x.y\"")).isEqualTo(new TableName("public", "x.y"));
        assertThat(new TableName("my.schema", "a\"b").toString()).isEqualTo("\"my.schema\".\"a\"\"b\"");
        assertThat(TableName.parse(new TableName("my.schema", "a\"b").toString())).isEqualTo(new TableName("my.schema", "a\"b"));
    }

    @Test
    void malformedNamesAreRejected() {
        for (String bad : new String[] {"a.b.c", ".orders", "orders.", "\"open", "\"a\"b.c", "a..b"}) {
            assertThatThrownBy(() -> TableName.parse(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith("Not a table name: '" + bad + "'");
        }
    }
}
