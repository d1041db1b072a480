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
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
    void questionsAskedAtOnceGoOverTheConnectionsTheWarmingOpened(TestKeel keel) throws Exception {
        StandbyVouches vouches = keel.bean(StandbyVouches.class);
        URI api = URI.create(keel.api().baseUrl());
        try (TcpRelay relay = new TcpRelay(api.getHost(), api.getPort())) {
            String url = api.getScheme() + "://" + api.getHost() + ":" + relay.port();
            assertThat(vouches.warm(url, 3).get(10, TimeUnit.SECONDS)).as("each warming question refused as one about no watched primary")
                    .isNull();
            assertThat(relay.accepted()).as("one connection for each question asked at once").isEqualTo(3);
            ExecutorService askers = Executors.newFixedThreadPool(3);
            try {
                List<Future<String>> asked = new ArrayList<>();
                for (int i = 0; i < 3; i++) {
                    UUID primary = UUID.randomUUID();
                    asked.add(askers.submit(() -> vouches.ask(url, primary, UUID.randomUUID(), Duration.ofSeconds(10))));
                }
                for (Future<String> refusal : asked) {
                    assertThat(refusal.get(20, TimeUnit.SECONDS)).startsWith("HTTP 409: ").endsWith("does not watch it.");
                }
            } finally {
                askers.shutdownNow();
            }
            assertThat(relay.accepted()).as("no new connection for the questions").isEqualTo(3);
            assertThat(vouches.warm("http://127.0.0.1:1", 1).get(10, TimeUnit.SECONDS)).as("a node that does not answer")
                    .contains("ConnectException");
        }
    }
}
