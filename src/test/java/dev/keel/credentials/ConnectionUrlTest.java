package dev.keel.credentials;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ConnectionUrlTest {
    @Test
    void rendersAHerokuStyleUrlThatAsksForTls() {
        assertThat(new ConnectionUrl("u1", "p2", "127.0.0.1", 55000, "d3").toString())
                .isEqualTo("postgres://u1:p2@127.0.0.1:55000/d3?sslmode=require");
    }

    @Test
    void encodesReservedCharactersAndBracketsIpv6() {
        assertThat(new ConnectionUrl("u", "p@ss:w/rd", "::1", 5432, "d").toString())
                .isEqualTo("postgres://u:p%40ss%3Aw%2Frd@[::1]:5432/d?sslmode=require");
    }
}
