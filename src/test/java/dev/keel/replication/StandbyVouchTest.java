package dev.keel.replication;

import dev.keel.testing.Api;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TcpRelay;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.net.URI;
import java.time.Duration;
import java.util.Base64;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The vouch one node's self-fence asks of the node hosting its primary's standby
 * ({@link StandbyVouches}), over real HTTP: only a question sealed with the installation's key is
 * answered, and a node vouches for no primary it does not watch from its standby's side. That it
 * vouches for one it reaches, and not for one whose port it cannot reach, runs across hosts in
 * {@code KeelDownFenceIT}.
 */
@ExtendWith(SharedKeel.class)
class StandbyVouchTest {
    @Test
    void onlySealedQuestionsAreAnsweredAndNoPrimaryThisNodeDoesNotWatchIsVouchedFor(TestKeel keel) throws Exception {
        StandbyVouches vouches = keel.bean(StandbyVouches.class);
        String url = keel.api().baseUrl();
        UUID primary = UUID.randomUUID();

        assertThat(vouches.ask(url, primary, UUID.randomUUID(), Duration.ofSeconds(10))).startsWith("HTTP 409: ")
                .contains("does not vouch for primary " + primary).contains("does not watch it");

        Api anonymous = keel.api().withKey(null);
        assertThat(anonymous.send(anonymous.request(StandbyVouches.PATH).GET()).status()).as("no question").isEqualTo(404);
        String forged = Base64.getUrlEncoder().withoutPadding().encodeToString(new byte[64]);
        assertThat(anonymous.send(anonymous.request(StandbyVouches.PATH).header(StandbyVouches.QUESTION_HEADER, forged).GET()).status())
                .as("a question not sealed with the key").isEqualTo(404);
        // A sealed answer is no question: the two are sealed for different contexts.
        String answer = vouches.vouched(new StandbyVouches.Question(primary, UUID.randomUUID(), "00"));
        assertThat(vouches.open(answer)).isEmpty();
        assertThat(anonymous.send(anonymous.request(StandbyVouches.PATH).header(StandbyVouches.QUESTION_HEADER, answer).GET()).status())
                .as("an answer sent back as a question").isEqualTo(404);
    }

    @Test
    void aQuestionGoesOverTheConnectionTheWarmingOpened(TestKeel keel) throws Exception {
        StandbyVouches vouches = keel.bean(StandbyVouches.class);
        URI api = URI.create(keel.api().baseUrl());
        try (TcpRelay relay = new TcpRelay(api.getHost(), api.getPort())) {
            String url = api.getScheme() + "://" + api.getHost() + ":" + relay.port();
            vouches.warm(url).get(10, TimeUnit.SECONDS);
            assertThat(relay.accepted()).as("the warming's connection").isEqualTo(1);
            UUID primary = UUID.randomUUID();
            assertThat(vouches.ask(url, primary, UUID.randomUUID(), Duration.ofSeconds(10))).startsWith("HTTP 409: ")
                    .contains("does not vouch for primary " + primary);
            assertThat(relay.accepted()).as("no new connection for the question").isEqualTo(1);
        }
    }
}
