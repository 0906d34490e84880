# Writes the suite's public datasets as long-format CSV (one row per series and time step) into the
# folder given as the only argument. Every dataset comes from an R package installed from Debian
# (bench/suite.sh installs them); nothing is downloaded. Text values have commas and spaces replaced so
# that the CSVs need no quoting. Licenses and sources: bench/SUITE.md.
args <- commandArgs(trailingOnly = TRUE)
out <- args[1]
dir.create(out, showWarnings = FALSE, recursive = TRUE)
clean <- function(x) gsub("[ ,'.()]+", "_", as.character(x))
put <- function(df, name) {
  write.csv(df, file.path(out, paste0(name, ".csv")), row.names = FALSE, quote = FALSE, na = "")
  cat(sprintf("%-12s %5d series, %6d rows\n", name, length(unique(df[[1]])), nrow(df)))
}

# chickweight (R datasets): 50 chicks weighed every 2 days up to day 21 (some died early, so 2-12
# steps); Diet 1-4 is a small integer code, the case the schema's code rule is for.
cw <- as.data.frame(datasets::ChickWeight)
put(data.frame(chick = as.integer(as.character(cw$Chick)), day = cw$Time, weight = cw$weight,
               diet = as.integer(as.character(cw$Diet))), "chickweight")

# produc (plm): 48 US states x 17 years (1970-1986), census region 1-9 as a code; public capital,
# gross state product, employment, unemployment rate. Smooth yearly economic series.
data("Produc", package = "plm")
put(data.frame(state = clean(Produc$state), year = Produc$year, region = as.integer(as.character(Produc$region)),
               gsp = Produc$gsp, pcap = Produc$pcap, emp = Produc$emp, unemp = Produc$unemp), "produc")

# gapminder (dslabs): countries x years 1960-2015, continent and region (categorical, 5 and 22 values);
# life expectancy and fertility: smooth, each country moving within a small part of the global range.
# Countries with a missing value in either feature over those years are left out (no imputation).
g <- dslabs::gapminder
g <- g[g$year <= 2015, ]
bad <- unique(g$country[is.na(g$life_expectancy) | is.na(g$fertility)])
g <- g[!(g$country %in% bad), ]
g <- g[order(g$country, g$year), ]
put(data.frame(country = clean(g$country), year = g$year, continent = clean(g$continent), region = clean(g$region),
               life_expectancy = g$life_expectancy, fertility = g$fertility), "gapminder")

# diseases (dslabs us_contagious_diseases): yearly case counts of 7 diseases in 51 US states (1928-2011,
# each disease over its own years, so lengths differ: 16-76); disease is the categorical attribute; count
# is spiky, weeks_reporting (0-52) a small whole number. Years with no reporting at all are kept.
d <- dslabs::us_contagious_diseases
d <- d[order(d$disease, d$state, d$year), ]
put(data.frame(series = paste(clean(d$disease), clean(d$state), sep = "__"), year = d$year, disease = clean(d$disease),
               count = d$count, weeks_reporting = d$weeks_reporting), "diseases")

# pm10 (spacetime `air`): daily PM10 at 70 rural German background stations, 1998-2009, cut into
# non-overlapping 100-day windows; windows with at most 10% missing days are kept, gaps filled by linear
# interpolation (at most 10 days), and 1,000 of them picked at random (seed 0): the issue's 1,000 x 100
# timing bar, a noisy autocorrelated sensor. Attributes: the station's federal state (from its code,
# e.g. DENI = Niedersachsen) and the season the window starts in.
suppressMessages(library(spacetime))
data("air", package = "spacetime")
season <- c("winter", "winter", "spring", "spring", "spring", "summer", "summer", "summer", "autumn", "autumn", "autumn", "winter")
rows <- list()
for (s in seq_len(nrow(air))) {
  for (w in 0:(floor(ncol(air) / 100) - 1)) {
    idx <- w * 100 + 1:100
    v <- air[s, idx]
    if (sum(is.na(v)) > 10) next
    v <- approx(seq_along(v), v, seq_along(v), rule = 2)$y
    rows[[length(rows) + 1]] <- data.frame(window = sprintf("%s_%02d", rownames(air)[s], w), day = 0:99,
      land = substr(rownames(air)[s], 3, 4), season = season[as.integer(format(dates[idx[1]], "%m"))], pm10 = round(v, 2))
  }
}
set.seed(0)
keep <- sort(sample(length(rows), min(1000, length(rows))))
cat(sprintf("pm10: %d of %d windows qualify\n", length(keep), length(rows)))
put(do.call(rbind, rows[keep]), "pm10")
