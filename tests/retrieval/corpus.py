# ruff: noqa: E501 (the corpus reads best one sentence a line)
"""A generated corpus of sales calls with known answers, for retrieval-quality tests.

Every call shares the same opening and closing turns (the AI disclosure, the pitch,
the goodbye), so boilerplate is a real distractor; what sets a call apart is what the
prospect said in turns 3 and 5. Each topic comes with a question a rep or manager would
ask, whose answer is that call: some name a product or company (full text shines),
some paraphrase (the embeddings shine).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    key: str
    said: str  # the prospect's first answer
    more: str  # the prospect's second answer
    query: str


TOPICS: tuple[Topic, ...] = (
    Topic(
        "price_budget",
        "Honestly the price is the problem, forty thousand a year is way beyond the budget we set for logistics software.",
        "We would need it closer to twenty five thousand before finance signs off.",
        "prospect said it was too expensive for what they can afford",
    ),
    Topic(
        "per_seat",
        "How does your per-seat licensing work if we add seasonal drivers in December?",
        "We hire about sixty temporary drivers each winter.",
        "licensing cost for temporary seasonal drivers",
    ),
    Topic(
        "discount",
        "If we sign a three year contract, can you give us a multi-year discount?",
        "Our last vendor gave us fifteen percent off for committing longer.",
        "asked for a discount in exchange for a longer commitment",
    ),
    Topic(
        "hubspot",
        "We already run everything through HubSpot, so switching CRMs is not on the table.",
        "Our marketing team built all their workflows in it.",
        "calls where HubSpot came up",
    ),
    Topic(
        "salesforce",
        "Our enterprise division is locked into Salesforce until the renewal next fall.",
        "Their admin would have to approve any new connected app.",
        "Salesforce renewal",
    ),
    Topic(
        "samsara",
        "We're evaluating Samsara for fleet telematics right now and they gave us a demo last week.",
        "Their dashboard for driver safety scores looked impressive.",
        "which prospects are looking at Samsara",
    ),
    Topic(
        "callback_tuesday",
        "Can you call me back next Tuesday at three in the afternoon? I'm in meetings all day today.",
        "Tuesday afternoon works best, my calendar is clear then.",
        "prospect asked for a callback on Tuesday afternoon",
    ),
    Topic(
        "callback_friday",
        "Try me again Friday morning before nine, that's when I'm at my desk.",
        "After nine I'm out on the warehouse floor.",
        "ring them again early on Friday",
    ),
    Topic(
        "after_new_year",
        "Reach out again after the new year, we freeze all purchasing in December.",
        "January is when the new budget opens.",
        "wants to be contacted in January because of a purchasing freeze",
    ),
    Topic(
        "slack",
        "Does it integrate with Slack? Our dispatchers live in chat channels all day.",
        "We'd want route delays posted to a channel automatically.",
        "Slack integration for dispatch alerts",
    ),
    Topic(
        "quickbooks",
        "We need the invoices to sync with QuickBooks Online, otherwise accounting will revolt.",
        "Right now someone re-keys every delivery invoice by hand.",
        "syncing invoices with their bookkeeping software",
    ),
    Topic(
        "shopify",
        "Most of our orders come from our Shopify store, can routes be created from those orders?",
        "We ship about four hundred parcels a day from the online shop.",
        "create routes from e-commerce orders",
    ),
    Topic(
        "soc2",
        "Before we go further, are you SOC 2 Type II certified? Our security team will ask for the report.",
        "They also want the latest penetration test summary.",
        "their security team wants an audit report and a pen test",
    ),
    Topic(
        "gdpr",
        "Where is the data stored? We have drivers in Germany so GDPR and data residency in the EU matter.",
        "Our data protection officer needs a signed processing agreement.",
        "European data protection and where data is hosted",
    ),
    Topic(
        "sso",
        "Do you support single sign-on with Okta? We require SAML for every new tool.",
        "Password logins are banned by our IT policy.",
        "Okta SSO requirement",
    ),
    Topic(
        "in_house",
        "We're not interested, please take us off your list.",
        "We built our own routing system in house.",
        "not interested because they developed their own software internally",
    ),
    Topic(
        "decision_maker",
        "I'm not the one who decides this, you should talk to our COO, Maria Gonzalez.",
        "She owns the operations budget.",
        "referred us to the chief operating officer who makes the decision",
    ),
    Topic(
        "merger",
        "We're in the middle of a merger, so no new software until the deal closes in the spring.",
        "Legal has frozen all vendor contracts.",
        "acquisition is blocking new vendor contracts",
    ),
    Topic(
        "pilot",
        "Could we run a pilot with just our Denver depot for thirty days?",
        "If it cuts fuel costs we'd roll it out to all twelve depots.",
        "trial at a single site before rolling out everywhere",
    ),
    Topic(
        "fuel",
        "Fuel is our biggest expense, diesel went up almost twenty percent this year.",
        "Anything that trims idle time would pay for itself.",
        "rising diesel prices",
    ),
    Topic(
        "ev",
        "We're switching half our vans to electric, can you plan around charging stations and battery range?",
        "Range anxiety is real for our drivers in winter.",
        "EV fleet charging and range",
    ),
    Topic(
        "hazmat",
        "We haul hazardous materials, so routes have to avoid tunnels and certain bridges.",
        "Our drivers carry placards on every load.",
        "dangerous goods routing restrictions",
    ),
    Topic(
        "cold_chain",
        "Our trucks are refrigerated, we need temperature alerts if a reefer unit fails.",
        "Spoiled produce cost us a fortune last summer.",
        "cold chain temperature monitoring",
    ),
    Topic(
        "api",
        "Do you have a REST API with webhooks? Our developers want to pull route data into our warehouse system.",
        "We'd need rate limits high enough for nightly batch jobs.",
        "developer API access for their WMS",
    ),
    Topic(
        "onboarding",
        "How long does onboarding take? Last time a rollout took us six months.",
        "We need drivers trained in under two weeks.",
        "how long implementation and training take",
    ),
    Topic(
        "night_support",
        "What kind of support do you offer at night? We dispatch around the clock.",
        "If the app goes down at two in the morning we need a human on the phone.",
        "24/7 support",
    ),
    Topic(
        "cancel",
        "Can we cancel anytime or are we locked into an annual contract?",
        "We got burned by an auto-renewal clause before.",
        "worried about being stuck in a yearly agreement that renews itself",
    ),
    Topic(
        "offline",
        "Our drivers lose signal in the mountains, does the driver app work offline?",
        "Half of our routes go through areas with no coverage.",
        "app usage without cell reception",
    ),
    Topic(
        "spanish",
        "Many of our drivers prefer Spanish, is the driver app available in Spanish?",
        "The last tool was English only and adoption was terrible.",
        "driver app translated for Spanish speakers",
    ),
    Topic(
        "proof_of_delivery",
        "We need photo proof of delivery and electronic signatures at the door.",
        "Customers dispute deliveries all the time.",
        "capture a picture and signature when the package is dropped off",
    ),
    Topic(
        "eta_sms",
        "Can customers get text messages with a live arrival time?",
        "Our call center gets flooded with where-is-my-order calls.",
        "SMS ETA notifications for end customers",
    ),
    Topic(
        "union",
        "Our drivers are unionized, so any tracking has to be approved by the union rep.",
        "They worry about being monitored on breaks.",
        "labor union concerns about GPS monitoring of drivers",
    ),
    Topic(
        "routific",
        "We're pretty happy with Routific, it does what we need for now.",
        "Switching would need a really strong reason.",
        "Routific",
    ),
    Topic(
        "fiscal_year",
        "Our fiscal year starts in July, so budget requests are due by the end of April.",
        "If you send a proposal before then I can include it.",
        "deadline for getting a proposal into next year's budget",
    ),
    Topic(
        "referral",
        "My friend at Northwind Traders said you cut their mileage by a fifth.",
        "That's why I agreed to take this call.",
        "who referred them to us",
    ),
    Topic(
        "wrong_person",
        "You have the wrong person, I left that company last month.",
        "You might try the front desk for the new fleet manager.",
        "contact no longer works there",
    ),
    Topic(
        "brochure",
        "Just email me a brochure and a price sheet, I'll look at it this weekend.",
        "My address is on our website.",
        "send them information by email",
    ),
    Topic(
        "demo_booked",
        "Sure, let's book the demo for Thursday the fourteenth at ten.",
        "Send a calendar invite and include my colleague Priya.",
        "meeting scheduled with Priya invited",
    ),
    Topic(
        "tolls",
        "Can the routes minimize toll roads? Our drivers rack up huge bills on the turnpike.",
        "Tolls cost us more than parking tickets.",
        "avoiding tolls",
    ),
    Topic(
        "weather",
        "Snowstorms shut down our northern routes every winter, can it reroute around road closures?",
        "Last February we lost three days of deliveries.",
        "rerouting around blizzards",
    ),
)

FIRST_NAMES = ("Avery", "Blake", "Casey", "Devon", "Emery", "Finley", "Gray", "Harper")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Reyes")


def contact_name(i: int) -> str:
    return f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]}"


def turns(topic: Topic, name: str) -> list[tuple[str, str]]:
    """The whole conversation of one call, as (speaker, text) turns."""
    return [
        (
            "agent",
            f"Hi {name}, this is an AI assistant calling on behalf of Dana Lee at Acme "
            "Logistics. This call is recorded.",
        ),
        ("prospect", "Okay, go ahead."),
        (
            "agent",
            "We help fleets plan better delivery routes. Is now a good time for a quick question?",
        ),
        ("prospect", topic.said),
        ("agent", "Thanks, that's helpful to know. Could you tell me a bit more?"),
        ("prospect", topic.more),
        ("agent", "Understood. I'll pass that along to Dana and follow up."),
        ("prospect", "Alright, thanks. Bye."),
    ]
