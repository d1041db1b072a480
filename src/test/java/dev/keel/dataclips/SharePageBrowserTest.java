package dev.keel.dataclips;

import com.fasterxml.jackson.databind.JsonNode;
import dev.keel.testing.Api;
import dev.keel.testing.Pg;
import dev.keel.testing.SharedKeel;
import dev.keel.testing.TestKeel;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The share page in real headless Chromium (Debian's chromium and chromium-driver): the table
 * and the chart render, the page fits a phone's width, and the download links answer from the
 * page. A screenshot stays under target/. Without chromium the test is skipped, saying why, unless
 * {@code -Dkeel.test.require-browser=true} or {@code KEEL_TEST_REQUIRE_BROWSER=true} (.ci/run), where it fails.
 */
@ExtendWith(SharedKeel.class)
class SharePageBrowserTest {
    private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

    @Test
    void theSharePageRendersTableAndChartAndItsDownloadsWork(TestKeel keel) throws Exception {
        requireBrowser();
        Api api = keel.newTeam("browser-" + UUID.randomUUID().toString().substring(0, 8));
        JsonNode db = api.provision("{\"plan\":\"standard-0\"}");
        try (Connection c = Pg.connect(db.get("url").asText(), keel.caFile()); Statement sql = c.createStatement()) {
            sql.execute("create table signups (day date, plan text, n int)");
            sql.execute("insert into signups select date '2026-03-01' + g, (array['basic','pro'])[1 + g % 2], 10 + (g * 7) % 13"
                    + " from generate_series(0, 20) g");
        }
        Api.Response created = api.post("/v1/dataclips", "{\"title\":\"Signups <per day>\",\"database\":\"" + db.get("name").asText()
                + "\",\"sql\":\"select day, sum(n) as signups from signups where day >= {{since}} group by day order by day\","
                + "\"parameters\":{\"since\":\"2026-03-05\"}}");
        assertThat(created.status()).as(created.toString()).isEqualTo(201);
        String url = api.post("/v1/dataclips/" + created.field("id") + "/share", "").field("url");

        Path target = Path.of("target").toAbsolutePath();
        Path profile = Files.createTempDirectory(target, "chromium-profile-");
        ChromeOptions options = new ChromeOptions().setBinary(CHROMIUM.toFile()).addArguments("--headless", "--no-sandbox",
                "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                "--user-data-dir=" + profile);
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort().build();
        ChromeDriver browser = new ChromeDriver(service, options);
        try {
            browser.manage().window().setSize(new Dimension(390, 844)); // a phone
            browser.get(url);
            assertThat(browser.getTitle()).isEqualTo("Signups <per day>");
            assertThat(browser.findElement(By.id("title")).getText()).isEqualTo("Signups <per day>");
            assertThat(browser.findElement(By.id("computed")).getText()).startsWith("Computed 20").contains("on the primary · 17 rows");
            List<WebElement> headers = browser.findElements(By.cssSelector("#result thead th"));
            assertThat(headers).extracting(WebElement::getText).containsExactly("day", "signups");
            List<WebElement> rows = browser.findElements(By.cssSelector("#result tbody tr"));
            assertThat(rows).hasSize(17);
            assertThat(rows.get(0).findElements(By.tagName("td"))).extracting(WebElement::getText).containsExactly("2026-03-05", "12");
            WebElement chart = browser.findElement(By.cssSelector("#chart svg.chart-line"));
            assertThat(chart.getSize().getWidth()).isGreaterThan(300);
            String points = browser.findElement(By.cssSelector("#chart polyline.series")).getAttribute("points");
            assertThat(points.trim().split(" ")).hasSize(17);
            JavascriptExecutor js = browser;
            // The page's own stylesheet applied (served by Keel), and nothing wider than the phone.
            assertThat(js.executeScript("return getComputedStyle(document.querySelector('main')).paddingTop")).isEqualTo("16px");
            assertThat(((Number) js.executeScript("return document.documentElement.scrollWidth")).intValue())
                    .isLessThanOrEqualTo(((Number) js.executeScript("return window.innerWidth")).intValue());

            @SuppressWarnings("unchecked")
            Map<String, Object> csv = (Map<String, Object>) js.executeAsyncScript(
                    "const done = arguments[arguments.length - 1];"
                            + "fetch(document.getElementById('download-csv').href).then(r => r.text().then(t => done({status: r.status,"
                            + " type: r.headers.get('content-type'), body: t})));");
            assertThat(csv.get("status")).isEqualTo(200L);
            assertThat(csv.get("type")).isEqualTo("text/csv; charset=utf-8");
            assertThat((String) csv.get("body")).startsWith("day,signups\r\n2026-03-05,12\r\n").hasLineCount(18);
            @SuppressWarnings("unchecked")
            Map<String, Object> json = (Map<String, Object>) js.executeAsyncScript(
                    "const done = arguments[arguments.length - 1];"
                            + "fetch(document.getElementById('download-json').href).then(r => r.json()).then(j => done({title: j.title,"
                            + " rows: j.values.length, first: j.values[0]}));");
            assertThat(json.get("title")).isEqualTo("Signups <per day>");
            assertThat(json.get("rows")).isEqualTo(17L);
            assertThat(json.get("first")).isEqualTo(List.of("2026-03-05", 12L));

            File shot = ((TakesScreenshot) browser).getScreenshotAs(OutputType.FILE);
            Path kept = target.resolve("dataclip-share-page.png");
            Files.copy(shot.toPath(), kept, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            assertThat(Files.size(kept)).isGreaterThan(5_000);
        } finally {
            browser.quit();
            dev.keel.FileTrees.delete(profile);
        }
    }

    private static void requireBrowser() {
        boolean present = Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER);
        String reason = "the browser test needs Debian's chromium and chromium-driver (" + CHROMIUM + ", " + CHROMEDRIVER
                + "): apt-get install -y chromium chromium-driver, as .ci/run does";
        if (Boolean.getBoolean("keel.test.require-browser") || "true".equals(System.getenv("KEEL_TEST_REQUIRE_BROWSER"))) {
            assertThat(present).as(reason).isTrue();
        }
        Assumptions.assumeTrue(present, reason);
    }
}
