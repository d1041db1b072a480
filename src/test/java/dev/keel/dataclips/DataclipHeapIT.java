package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.Keel;
import dev.keel.testing.Api;
import dev.keel.testing.KeelProcess;
import dev.keel.testing.TestKeel;
import dev.keel.testing.Timeouts;
import dev.keel.testing.Wait;
import org.junit.jupiter.api.Test;

import javax.management.MBeanServerConnection;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A Keel whose heap may not grow past 256 MB (-Xmx, and -XX:+ExitOnOutOfMemoryError: one
 * allocation past the bound ends the process, whatever the garbage collector does) runs clips
 * that return about 2 GB each: forty cells of 51 MB, and 200,000 rows of 10 kB with a result cap
 * of 1 GB. Both succeed, cut, saying why; Keel is still running, and its MemoryMXBean (read over
 * JMX) shows the heap back where it started once collected.
 */
class DataclipHeapIT {
    private static final String HEAP = "256m";

    @Test
    void clipsReturningGigabytesLeaveKeelsHeapWithinItsBound() throws Exception {
        Path dataDir = TestKeel.freshDataDir("dataclip-heap");
        int jmxPort = KeelProcess.freePort();
        String jvm = "-Xmx" + HEAP + " -XX:+ExitOnOutOfMemoryError -Dcom.sun.management.jmxremote.port=" + jmxPort
                + " -Dcom.sun.management.jmxremote.rmi.port=" + jmxPort + " -Dcom.sun.management.jmxremote.host=127.0.0.1"
                + " -Djava.rmi.server.hostname=127.0.0.1 -Dcom.sun.management.jmxremote.authenticate=false"
                + " -Dcom.sun.management.jmxremote.ssl=false";
        Map<String, String> env = Map.of("JAVA_TOOL_OPTIONS", jvm, "KEEL_INSTANCES_POOL_SIZE", "0",
                "KEEL_DATACLIPS_RESULT_BYTES", "1GB", "KEEL_DATACLIPS_ROW_LIMIT", "10000000", "KEEL_DATACLIPS_WAIT", "1s");
        KeelProcess keel = KeelProcess.start(dataDir, TestKeel.nextPorts(), "0", env);
        try (JMXConnector jmx = JMXConnectorFactory.connect(new JMXServiceURL("service:jmx:rmi:///jndi/rmi://127.0.0.1:" + jmxPort
                + "/jmxrmi"))) {
            MBeanServerConnection server = jmx.getMBeanServerConnection();
            MemoryMXBean memory = ManagementFactory.newPlatformMXBeanProxy(server, ManagementFactory.MEMORY_MXBEAN_NAME, MemoryMXBean.class);
            List<MemoryPoolMXBean> heapPools = ManagementFactory.getPlatformMXBeans(server, MemoryPoolMXBean.class).stream()
                    .filter(pool -> pool.getType() == MemoryType.HEAP).toList();
            assertThat(memory.getHeapMemoryUsage().getMax()).isEqualTo(256L << 20);

            Api api = keel.api();
            String database = api.provision("{\"plan\":\"essential-0\"}").get("id").asText();
            memory.gc();
            long before = memory.getHeapMemoryUsage().getUsed();
            heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);

            JsonNode cells = run(keel, database, "select g, repeat(md5(g::text), 1600000) as body from generate_series(1, 40) g");
            assertThat(cells.get("row_count").asLong()).isEqualTo(40);
            assertThat(cells.get("truncated_reason").asText()).isEqualTo("cell_bytes");
            JsonNode rows = run(keel, database, "select g, repeat('x', 10000) as body from generate_series(1, 200000) g");
            assertThat(rows.get("truncated_reason").asText()).isEqualTo("result_bytes");
            assertThat(rows.get("truncated_detail").asText()).startsWith("The result was cut after ").endsWith(" rows, at 1 GB"
                    + " (KEEL_DATACLIPS_RESULT_BYTES).");
            long kept = rows.get("row_count").asLong();
            // Each row holds 10,001 to 10,006 bytes (its number's digits and 10,000 x): the cut comes within a row of 1 GB.
            assertThat(kept * 10_001).isLessThanOrEqualTo(1L << 30);
            assertThat((kept + 1) * 10_006).isGreaterThan(1L << 30);

            assertThat(keel.exitCode()).as("Keel ran out of its heap:\n" + keel.log()).isEmpty();
            String peaks = heapPools.stream().map(pool -> pool.getName() + " " + (pool.getPeakUsage().getUsed() >> 20) + " MB").toList()
                    .toString();
            memory.gc();
            long after = memory.getHeapMemoryUsage().getUsed();
            String status = Files.readString(Path.of("/proc/" + keel.pid() + "/status"));
            System.out.println("DataclipHeapIT: heap used " + (before >> 20) + " MB before, " + (after >> 20) + " MB after, collected;"
                    + " peaks " + peaks + "; " + status.lines().filter(l -> l.startsWith("VmHWM") || l.startsWith("VmRSS")).toList());
            assertThat(after).as("heap after the runs, collected").isLessThan(before + (32L << 20));
            api.deprovision(database);
        } finally {
            keel.close();
            Keel.stopServers(dataDir);
        }
    }

    private static JsonNode run(KeelProcess keel, String database, String sql) {
        Api api = keel.api();
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"big\",\"database\":\"" + database + "\",\"sql\":" + Json.quote(sql)
                + ",\"timeout_seconds\":600}");
        assertThat(created.status()).as(created.toString()).isIn(201, 202);
        String id = created.field("id");
        JsonNode result = Wait.until("the clip to finish", Timeouts.BIG_CLIP, () -> {
            if (keel.exitCode().isPresent()) {
                throw new AssertionError("Keel exited (" + keel.exitCode().get() + ") during " + sql + ":\n" + keel.log());
            }
            JsonNode r = api.get("/v1/dataclips/" + id).json().get("result");
            return r != null && !"running".equals(r.get("state").asText()) ? Optional.of(r) : Optional.empty();
        });
        assertThat(result.get("state").asText()).as(result.toString()).isEqualTo("succeeded");
        assertThat(result.get("truncated").asBoolean()).isTrue();
        return result;
    }
}
