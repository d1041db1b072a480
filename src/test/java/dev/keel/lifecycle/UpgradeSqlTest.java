package dev.keel.lifecycle;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class UpgradeSqlTest {
    @Test
    void aSettingRenamedInTheNewMajorIsCarriedUnderItsNewName() {
        assertThat(UpgradeSql.forMajor("force_parallel_mode=on", 16)).isEqualTo("debug_parallel_query=on");
        assertThat(UpgradeSql.forMajor("force_parallel_mode=regress", 18)).isEqualTo("debug_parallel_query=regress");
        assertThat(UpgradeSql.forMajor("force_parallel_mode=on", 15)).isEqualTo("force_parallel_mode=on");
        assertThat(UpgradeSql.forMajor("work_mem=64MB", 17)).isEqualTo("work_mem=64MB");
        assertThat(UpgradeSql.forMajor("search_path=a, \"b=c\"", 17)).isEqualTo("search_path=a, \"b=c\"");
    }
}
