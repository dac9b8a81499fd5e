"""Word lists for Latin-script columns: common given names and surnames, street and company words.

The name lists were written for dealvault (not copied from a data set): frequent given names and
surnames of the US, UK, Ireland, Germany, France, Spain, Italy, the Netherlands, India and
Latin-script Chinese, Japanese and Korean spellings, guided by the public-domain US Census 2010
surname table and the US Social Security Administration's given-name lists. They only need to
cover enough of a real column for its share to pass; rare names count through the column's shape.
"""

from __future__ import annotations

from typing import Final


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


GIVEN_NAMES: Final = _words(
    """
    james john robert michael william david richard joseph thomas charles christopher daniel
    matthew anthony mark donald steven paul andrew joshua kenneth kevin brian george timothy
    ronald edward jason jeffrey ryan jacob gary nicholas eric jonathan stephen larry justin scott
    brandon benjamin samuel gregory alexander frank patrick raymond jack dennis jerry tyler aaron
    jose adam nathan henry douglas zachary peter kyle noah ethan jeremy walter christian keith
    roger terry austin sean gerald carl harold dylan arthur lawrence jordan jesse bryan billy
    bruce gabriel joe logan alan juan albert willie elijah wayne randy vincent mason roy ralph
    bobby russell bradley philip eugene liam oliver lucas leo oscar harry charlie freddie alfie
    archie theo arthur max luca felix jonas paul leon finn elias lukas ben emil anton moritz
    hans karl klaus jurgen wolfgang stefan andreas thomas markus martin michael frank uwe dirk
    jean pierre louis hugo jules gabriel raphael arthur nathan antoine nicolas julien francois
    philippe olivier alain bernard christophe sebastien thierry laurent vincent mathieu
    carlos luis miguel javier antonio manuel francisco pedro diego pablo alejandro sergio jorge
    giuseppe giovanni marco luca matteo alessandro andrea lorenzo francesco davide simone
    pieter jan bram daan sem lars sven erik johan anders nils
    rahul amit rajesh suresh ramesh vijay sanjay anil sunil arjun rohan vikram aditya arun
    ravi krishna deepak manoj ashok prakash kiran nikhil rohit karan varun
    wei ming jun hao jie lei tao yong bin hui kenji hiroshi takashi yuki haruto sota ren
    minjun jiho seojun hyun jin
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty
    sandra margaret ashley kimberly emily donna michelle carol amanda melissa deborah stephanie
    dorothy rebecca sharon laura cynthia amy kathleen angela shirley brenda emma anna pamela
    nicole samantha katherine christine helen debra rachel carolyn janet maria catherine heather
    diane olivia julie joyce victoria ruth virginia lauren kelly christina joan evelyn judith
    andrea hannah megan cheryl jacqueline martha madison teresa gloria sara janice ann kathryn
    abigail sophia frances jean alice judy isabella julia grace amber denise danielle marilyn
    beverly charlotte natalie theresa diana brittany doris kayla alexis lori marie ava mia
    amelia isla poppy lily ella sophie chloe jessica ruby evie freya grace florence
    lena lea mila hanna leonie johanna clara lara sarah laura ursula petra sabine monika
    claudia birgit heike susanne katrin
    camille manon ines jade louise alice chloe lea juliette nathalie isabelle sylvie
    catherine francoise valerie sandrine celine
    lucia sofia martina paula valeria carmen ana isabel rosa elena laura cristina marta pilar
    giulia francesca chiara sara alessia federica valentina silvia elisa
    sanne fleur anouk ingrid astrid karin eva ida
    priya anjali pooja neha sunita anita kavita deepa divya lakshmi meera nisha rekha sneha
    shreya aishwarya ananya
    mei li xiu yan fang ying hong jing yumi yui sakura hina aoi yoko keiko seoyeon jiwoo
    minji
    """
)

SURNAMES: Final = _words(
    """
    smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez
    gonzalez wilson anderson thomas taylor moore jackson martin lee perez thompson white harris
    sanchez clark ramirez lewis robinson walker young allen king wright scott torres nguyen hill
    flores green adams nelson baker hall rivera campbell mitchell carter roberts gomez phillips
    evans turner diaz parker cruz edwards collins reyes stewart morris morales murphy cook rogers
    gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim cox ward richardson
    watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo
    sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell
    coleman butler henderson barnes gonzales fisher vasquez simmons romero jordan patterson
    alexander hamilton graham reynolds griffin wallace moreno west cole hayes bryant herrera
    gibson ellis tran medina aguilar stevens murray ford castro marshall owens harrison
    fernandez mcdonald woods washington kennedy wells vargas henry chen freeman webb tucker
    guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason
    dixon munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox
    warren mills meyer rice schmidt garza daniels ferguson nichols stephens soto weaver ryan
    gardner payne grant dunn kelley spencer hawkins arnold pierce hansen peters santos hart
    bradley knight elliott cunningham duncan armstrong hudson carroll lane riley andrews ray
    berry perkins hoffman johnston matthews pena richards willis carpenter lawrence sandoval
    obrien oconnor byrne walsh ryan doyle mccarthy gallagher kennedy lynch quinn
    mueller muller schneider fischer weber schulz becker hoffmann schafer koch bauer richter
    klein wolf schroder neumann schwarz zimmermann braun kruger hofmann hartmann lange schmitt
    werner krause lehmann kohler
    bernard dubois durand lefebvre leroy moreau simon laurent michel roux fournier girard
    bonnet dupont lambert fontaine rousseau vincent muller mercier blanc guerin boyer
    garcia fernandez gonzalez rodriguez lopez martinez sanchez perez gomez martin jimenez
    ruiz hernandez diaz moreno alvarez romero navarro torres dominguez vazquez gil serrano
    rossi russo ferrari esposito bianchi romano colombo ricci marino greco bruno gallo conti
    deluca costa giordano mancini rizzo lombardi moretti
    dejong jansen devries bakker visser smit meijer mulder bos vos peters hendriks dekker
    janssen
    johansson andersson karlsson nilsson eriksson larsson olsson persson hansen nielsen
    jensen pedersen
    sharma verma gupta singh kumar patel shah mehta joshi reddy rao iyer nair menon pillai
    das bose chatterjee banerjee mukherjee agarwal jain malhotra kapoor khanna chopra desai
    wang li zhang liu chen yang huang zhao wu zhou xu sun ma zhu hu guo lin he gao luo zheng
    liang xie tang song wong chan cheung lam ho ng leung tan lim ong goh teo tay koh
    sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato yoshida
    yamada sasaki yamaguchi matsumoto inoue kimura
    park choi jung kang cho yoon jang lim han shin
    nowak kowalski wisniewski novak horvat kovac popescu ivanov petrov smirnov
    """
)

# Words that make a capitalised value a company, product, place or street rather than a person.
NOT_PERSON_WORDS: Final = _words(
    """
    inc ltd llc llp plc gmbh ag sa sas sarl bv nv co corp corporation company group holdings
    limited partners bank store shop market foods services solutions systems technologies tech
    university school college hospital clinic hotel restaurant cafe club center centre
    street st road rd avenue ave boulevard blvd lane ln drive dr way court place square
    city county state province district north south east west new san santa saint
    the and of for pro max mini plus ultra edition pack set kit
    """
)

# Street words (lower case) and the forms in which they come after or before the name.
STREET_SUFFIXES: Final = (
    "street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way"
    "|terrace|terr|close|crescent|cres|square|sq|highway|hwy|parkway|pkwy|circle|cir|trail"
    "|walk|row|mews|gardens|grove|hill|park|green|parade"
)
STREET_PREFIXES: Final = (
    "rue|avenue|av|boulevard|bd|bvd|place|chemin|allée|allee|impasse|quai|route|cours"
    "|via|viale|piazza|corso|vicolo|calle|avenida|plaza|paseo|carrer|rua|travessa"
)
# German, Dutch and Scandinavian compounds end in the street word (Hauptstraße 5).
STREET_COMPOUNDS: Final = (
    "straße|strasse|str\\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee"
    "|straat|laan|plein|gracht|kade|singel|gatan|vägen|vej|gade|veien"
)
