"""The stage graph and its runs: what each table reads (`plan`), the stages and their cache keys (`stages`,
`cache`), computing them side by side (`runner`, `lab`, `scoring`), the notebooks' shared cells and exports
(`notebook`, `chapters`) and `make reproduce` (`pipeline`). The science core imports nothing from here."""
