package dev.keel.dumps;

import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * How a restore URL's answer is read (HttpFraming, and DumpUrls' redirects): a head that could
 * frame its body more than one way is refused as a bad answer (503), never guessed at, and a body
 * is read exactly as its head frames it. The answers are the bytes a server would send.
 */
class HttpFramingTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "a negative Content-Length | Content-Length: -5\\r\\n | a Content-Length that is not a length",
            "a signed Content-Length | Content-Length: +5\\r\\n | a Content-Length that is not a length",
            "a Content-Length list | Content-Length: 5, 5\\r\\n | a Content-Length that is not a length",
            "two different Content-Lengths | Content-Length: 5\\r\\nContent-Length: 6\\r\\n | two different Content-Lengths",
            "a folded header line | Content-Length: 5\\r\\n X-Folded: yes\\r\\n | a folded header line",
            "a space before a colon | Content-Length : 5\\r\\n | a header line without a name and a colon",
            "a tab before a colon | Transfer-Encoding\\t: chunked\\r\\nContent-Length: 5\\r\\n | a header line without a name and a colon"})
    void aHeadThatFramesItsBodyAmbiguouslyIsRefused(String name, String headers, String why) {
        Throwable refused = catchThrowable(() -> HttpFraming.read(answer("HTTP/1.1 200 OK\r\n" + unescape(headers) + "\r\nhello"),
                "dumps.example"));

        assertThat(refused).as(name).isInstanceOf(KeelException.class);
        assertThat(((KeelException) refused).type()).isEqualTo(ProblemType.UNAVAILABLE);
        assertThat(refused.getMessage()).isEqualTo("The server of dumps.example did not answer in HTTP/1.1 (" + why + "); check the URL.");
    }

    @Test
    void theSameContentLengthTwiceFramesTheBody() throws IOException {
        DumpUrls.Response response = HttpFraming.read(answer("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\nhello, and more"),
                "dumps.example");

        assertThat(response.body().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("hello");
    }

    @Test
    void onlyAChunkedLastCodingIsChunked() throws IOException {
        DumpUrls.Response notChunked = HttpFraming.read(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                "dumps.example");
        assertThat(notChunked.body().readAllBytes()).as("read to the connection's end").asString(StandardCharsets.US_ASCII)
                .isEqualTo("3\r\nabc\r\n0\r\n\r\n");

        DumpUrls.Response chunked = HttpFraming.read(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\ntransfer-encoding:  Chunked \r\n\r\n"
                + "3\r\nabc\r\n0\r\n\r\nafter"), "dumps.example");
        assertThat(chunked.body().readAllBytes()).asString(StandardCharsets.US_ASCII).isEqualTo("abc");
    }

    @Test
    void aChunkLongerThanItsSizeFailsTheBody() throws IOException {
        DumpUrls.Response response = HttpFraming.read(answer("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX\r\n0\r\n\r\n"),
                "dumps.example");

        IOException failed = catchThrowableOfType(IOException.class, () -> response.body().readAllBytes());

        assertThat(failed).as("the body fails").isNotNull();
        assertThat(failed).hasMessage("the server sent a chunk longer than its size");
    }

    @Test
    void aMalformedLocationIsABadAnswer() {
        Throwable refused = catchThrowable(() -> DumpUrls.redirected(URI.create("https://dumps.example/latest.dump"), "/a dump\\here"));

        assertThat(refused).isInstanceOf(KeelException.class);
        assertThat(((KeelException) refused).type()).isEqualTo(ProblemType.UNAVAILABLE);
        assertThat(refused).hasMessage("The server of dumps.example redirected to a malformed URL; check the URL.");
        assertThat(DumpUrls.redirected(URI.create("https://dumps.example/latest.dump"), " /v2/latest.dump "))
                .isEqualTo(URI.create("https://dumps.example/v2/latest.dump"));
    }

    private static InputStream answer(String text) {
        return new ByteArrayInputStream(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    private static String unescape(String csv) {
        return csv.replace("\\r", "\r").replace("\\n", "\n").replace("\\t", "\t");
    }
}
