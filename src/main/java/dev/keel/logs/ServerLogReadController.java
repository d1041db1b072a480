package dev.keel.logs;

import dev.keel.instances.InstanceRuntime;
import dev.keel.problems.KeelException;
import dev.keel.problems.ProblemType;
import io.micronaut.core.annotation.Nullable;
import io.micronaut.http.HttpResponse;
import io.micronaut.http.MediaType;
import io.micronaut.http.annotation.Controller;
import io.micronaut.http.annotation.Get;
import io.micronaut.http.annotation.Header;
import io.micronaut.scheduling.TaskExecutors;
import io.micronaut.scheduling.annotation.ExecuteOn;
import io.swagger.v3.oas.annotations.Operation;

import java.util.Optional;

/**
 * {@code GET /internal/server-logs} with header {@code Keel-Log-Read: <token>}: a range of the log of a server this node hosts, for
 * another node that serves a request for it ({@link HostedLogs}). The token, sealed with the
 * installation's secret key, is the whole authorization: no API key is taken, and a token that is
 * altered, stale, or names a server this node does not host is not found. The body is the bytes;
 * header {@code Keel-Log-Size} is the log's size when they were read.
 */
@Controller(ServerLogReadController.PATH)
@ExecuteOn(TaskExecutors.BLOCKING)
final class ServerLogReadController {
    static final String PATH = "/internal/server-logs";

    private final HostedLogs logs;

    ServerLogReadController(HostedLogs logs) {
        this.logs = logs;
    }

    @Get(produces = MediaType.APPLICATION_OCTET_STREAM)
    @Operation(summary = "A range of a server log, for another Keel node (header Keel-Log-Read: a token sealed with the installation's"
            + " secret key)")
    HttpResponse<byte[]> read(@Header(HostedLogs.TOKEN_HEADER) @Nullable String token) {
        HostedLogs.Range range = (token == null ? Optional.<HostedLogs.Range>empty() : logs.open(token)).orElseThrow(() -> notFound());
        InstanceRuntime.LogBytes read = logs.readHere(range).orElseThrow(() -> notFound());
        return HttpResponse.ok(read.bytes()).header(HostedLogs.SIZE_HEADER, Long.toString(read.size()));
    }

    private static KeelException notFound() {
        return new KeelException(ProblemType.NOT_FOUND, "This server log read is unknown, over, or for a server this node does not host;"
                + " it is for Keel's nodes, which ask for a new one.");
    }
}
